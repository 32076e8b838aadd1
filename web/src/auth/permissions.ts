// Permission names as the server's role table spells them (src/arrears/auth/roles.py).
export type Permission =
  | 'customers:read'
  | 'customers:write'
  | 'customers:reveal'
  | 'loans:read'
  | 'loans:write'
  | 'products:read'
  | 'products:write'
  | 'payments:read'
  | 'payments:write'
  | 'payments:reverse'
  | 'imports:run'
  | 'exports:run'
  | 'audit:read'
  | 'users:manage'
  | 'approvals:read'
  | 'approvals:request'
  | 'approvals:decide'
  | 'schedule:preview'
  | 'eod:run'
  | 'eod:read'
  | 'holds:write'
  | 'analytics:read';

export interface CurrentUser {
  username: string;
  display_name: string;
  role: string;
  team?: string | null;
  agency?: string | null;
  permissions: string[];
  must_change_password: boolean;
  approval_limit?: string | null;
}

export function can(user: CurrentUser | null | undefined, permission: Permission | undefined): boolean {
  if (!permission) return true;
  return Boolean(user?.permissions.includes(permission));
}
