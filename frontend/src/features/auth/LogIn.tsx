import { useState, type FormEvent } from "react";
import { Link, navigate, useLocation } from "../../app/router";
import { rest, useSession } from "../../app/session";

export function LogIn() {
  const { query } = useLocation();
  const { logIn, notice, session } = useSession();
  const [email, setEmail] = useState(query.get("created") ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = query.get("next");
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/greeter";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await rest<{ token: string }>("POST", "/auth/login", { email, password });
      logIn(answer.token, email);
      navigate(target);
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow" aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      {notice && <p className="notice" role="status">{notice}</p>}
      {query.get("created") && <p className="notice" role="status">Account created. Log in with it.</p>}
      {session && <p>You are logged in as {session.email}.</p>}
      <form onSubmit={submit}>
        <label htmlFor="login-email">Email</label>
        <input id="login-email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <label htmlFor="login-password">Password</label>
        <input id="login-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>Log in</button>
      </form>
      <p>No account? <Link to="/signup">Sign up</Link></p>
    </section>
  );
}
