"""Write the API's OpenAPI document to a file, for the console's typed client.

``python -m arrears.kit.openapi_dump web/openapi.json`` — the console's build generates its
TypeScript types from that file, so a changed endpoint breaks the console's build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def dump(target: Path) -> None:
    """Write ``create_app().openapi()`` to ``target``, keys sorted, so diffs stay small."""
    from arrears.app import create_app

    document = create_app().openapi()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m arrears.kit.openapi_dump OUTPUT.json", file=sys.stderr)
        return 2
    dump(Path(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
