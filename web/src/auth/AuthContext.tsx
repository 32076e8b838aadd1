// The signed-in user. Signing in opens a cookie session (POST /auth/session) whose CSRF
// token the client sends on every change; GET /auth/me tells who is signed in after a
// reload; any 401 from the API means the session ended, and the console asks to sign in
// again, then returns to the page the user was on.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api, setCsrfToken, setUnauthenticatedHandler, unwrap } from '../api/client';
import type { ApiError } from '../api/errors';
import type { CurrentUser } from './permissions';

export type SessionState = 'checking' | 'signed-in' | 'signed-out';
export type SignedOutReason = 'expired' | 'signed-out' | null;

export interface Auth {
  state: SessionState;
  user: CurrentUser | null;
  reason: SignedOutReason;
  signIn: (username: string, password: string) => Promise<CurrentUser>;
  signOut: () => Promise<void>;
  changePassword: (current: string, next: string) => Promise<void>;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>('checking');
  const [user, setUser] = useState<CurrentUser | null>(null);
  const [reason, setReason] = useState<SignedOutReason>(null);
  const stateRef = useRef(state);
  stateRef.current = state;

  const endSession = useCallback((why: SignedOutReason) => {
    setCsrfToken(null);
    setUser(null);
    setReason(why);
    setState('signed-out');
  }, []);

  const refresh = useCallback(async () => {
    try {
      const me = await unwrap(api.GET('/api/v1/auth/me'));
      setUser(me as CurrentUser);
      setState('signed-in');
    } catch {
      setCsrfToken(null);
      setUser(null);
      setState('signed-out');
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    setUnauthenticatedHandler((_error: ApiError) => {
      if (stateRef.current === 'signed-in') endSession('expired');
    });
    return () => setUnauthenticatedHandler(null);
  }, [endSession]);

  const signIn = useCallback(async (username: string, password: string) => {
    const session = await unwrap(
      api.POST('/api/v1/auth/session', { body: { username, password } }),
    );
    setCsrfToken(session.csrf_token);
    const me = session.user as CurrentUser;
    setUser(me);
    setReason(null);
    setState('signed-in');
    return me;
  }, []);

  const signOut = useCallback(async () => {
    try {
      await unwrap(api.DELETE('/api/v1/auth/session'));
    } catch {
      // the session may already be gone; signing out locally is what matters
    }
    endSession('signed-out');
  }, [endSession]);

  const changePassword = useCallback(
    async (current: string, next: string) => {
      await unwrap(
        api.POST('/api/v1/auth/password', {
          body: { current_password: current, new_password: next },
        }),
      );
      endSession('signed-out');
    },
    [endSession],
  );

  const value = useMemo<Auth>(
    () => ({ state, user, reason, signIn, signOut, changePassword, refresh }),
    [state, user, reason, signIn, signOut, changePassword, refresh],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const context = useContext(AuthContext);
  if (!context) throw new Error('useAuth outside AuthProvider');
  return context;
}

/** For tests and stories: a fixed user, no server. */
export function StaticAuthProvider({ user, children }: { user: CurrentUser; children: ReactNode }) {
  const value = useMemo<Auth>(
    () => ({
      state: 'signed-in',
      user,
      reason: null,
      signIn: async () => user,
      signOut: async () => undefined,
      changePassword: async () => undefined,
      refresh: async () => undefined,
    }),
    [user],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
