"""Security: users, sign-in and sessions, roles and permissions, data scope, masking,
encryption at rest, the tamper-evident audit trail and four-eyes approvals.

Where things live:

- ``roles``: the one table of which role may do what.
- ``deps``: ``Require(Permission.X)``, ``public``, ``authenticated`` for routes.
- ``scope``: which rows a principal may see (``apply_scope``, ``check_in_scope``).
- ``masking``: pure functions that hide the middle of personal data.
- ``crypto``: ``EncryptedString`` columns and ``blind_index`` for exact search.
- ``audit``: ``record``, ``verify``, ``register_audited``, ``audit_actor``.
- ``approvals``: ``register_action``, ``request_approval``, ``decide``.
"""
