// Who is logged in: the token auth issued, kept for the browser session (sessionStorage), and a
// Connect transport that sends it. An expired token — by its `exp`, or a call answered
// unauthenticated — ends the session and sends the user back to log in.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ConnectError, ConnectTransport } from "../gen/connect_runtime";
import { TransportProvider } from "../gen/connect_react";
import { navigate } from "./router";

export interface Session {
  token: string;
  email: string;
  userId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

const storageKey = "devctl.session";

/** The claims the app needs from a JWT (it does not verify it: the edge does). */
export function readToken(token: string): { userId: string; expiresAt: number } | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown; exp?: unknown };
    if (typeof json.sub !== "string" || typeof json.exp !== "number") return null;
    return { userId: json.sub, expiresAt: json.exp * 1000 };
  } catch {
    return null;
  }
}

function load(): Session | null {
  try {
    const session = JSON.parse(sessionStorage.getItem(storageKey) ?? "null") as Session | null;
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

interface SessionState {
  session: Session | null;
  /** Why the last session ended, when it was not the user's choice. */
  notice: string | null;
  logIn(token: string, email: string): void;
  logOut(reason?: string): void;
}

const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession outside <SessionProvider>");
  return state;
}

export function SessionProvider(props: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(load);
  const [notice, setNotice] = useState<string | null>(null);
  const current = useRef(session);
  current.current = session;

  const logOut = useCallback((reason?: string) => {
    sessionStorage.removeItem(storageKey);
    setSession(null);
    setNotice(reason ?? null);
    navigate(reason ? `/login?next=${encodeURIComponent(location.pathname)}` : "/login");
  }, []);

  const logIn = useCallback((token: string, email: string) => {
    const claims = readToken(token);
    if (!claims) throw new Error("the server's token cannot be read");
    const next: Session = { token, email, ...claims };
    sessionStorage.setItem(storageKey, JSON.stringify(next));
    setNotice(null);
    setSession(next);
  }, []);

  // The token's own expiry ends the session even when no call is made.
  useEffect(() => {
    if (!session) return undefined;
    const timer = setTimeout(() => logOut("Your session expired. Log in again."), Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session, logOut]);

  const transport = useMemo(() => new ConnectTransport({
    baseUrl: "", // the page's own origin: the edge
    timeoutMs: 15_000,
    interceptors: [
      (next) => async (request) => {
        const token = current.current?.token;
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        try {
          return await next(request);
        } catch (error) {
          if (error instanceof ConnectError && error.code === "unauthenticated" && current.current) {
            logOut("Your session expired. Log in again.");
          }
          throw error;
        }
      },
    ],
  }), [logOut]);

  const state = useMemo(() => ({ session, notice, logIn, logOut }), [session, notice, logIn, logOut]);
  return (
    <SessionContext.Provider value={state}>
      <TransportProvider transport={transport}>{props.children}</TransportProvider>
    </SessionContext.Provider>
  );
}

/** A JSON REST call to the edge (auth, custom-lang), with the session's token when there is one. */
export async function rest<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const message = json && typeof json === "object" && "error" in json ? String((json as { error: unknown }).error)
      : json && typeof json === "object" && "message" in json ? String((json as { message: unknown }).message) : `HTTP ${response.status}`;
    throw new RestError(response.status, message);
  }
  return json as T;
}

export class RestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "RestError";
  }
}
