// Display masks for personal data, the same rules as the server's (auth/masking.py): the
// ends stay, the middle becomes *. The server masks for roles that may not see the value;
// the console masks the rest until the user reveals a value, with a reason.
export function isMasked(value: string | null | undefined): boolean {
  return Boolean(value && value.includes('*'));
}

export function maskMiddle(value: string, head: number, tail: number, minHidden = 4): string {
  const n = value.length;
  let h = head;
  let tl = tail;
  if (n - h - tl < minHidden) {
    h = Math.floor(n / 4);
    tl = Math.floor(n / 4);
  }
  return value.slice(0, h) + '*'.repeat(Math.max(0, n - h - tl)) + (tl ? value.slice(n - tl) : '');
}

export function maskIdNumber(value: string | null | undefined): string {
  if (!value) return '—';
  return isMasked(value) ? value : maskMiddle(value, 6, 4);
}

export function maskPhone(value: string | null | undefined): string {
  if (!value) return '—';
  if (isMasked(value)) return value;
  const digits = value.replace(/^\+86/, '').replace(/\s+/g, '');
  return maskMiddle(digits, 3, 4, 3);
}

export function maskEmail(value: string): string {
  if (isMasked(value)) return value;
  const [local, domain] = value.split('@');
  if (!domain || !local) return maskMiddle(value, 1, 1);
  return `${maskMiddle(local, 1, 1, 1)}@${domain}`;
}

export function maskAddress(value: string): string {
  if (isMasked(value)) return value;
  const keep = Math.min(6, Math.floor(value.length / 2));
  return value.slice(0, keep) + '*'.repeat(Math.max(6, value.length - keep) > 6 ? 6 : value.length - keep);
}

export function maskContact(kind: string, value: string): string {
  if (kind === 'phone') return maskPhone(value);
  if (kind === 'email') return maskEmail(value);
  return maskAddress(value);
}
