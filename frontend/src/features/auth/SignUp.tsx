import { useState, type FormEvent } from "react";
import { Link, navigate } from "../../app/router";
import { rest } from "../../app/session";
import { emailLooksValid, passwordRules } from "./passwordRules";

export function SignUp() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const rules = passwordRules(password);
  const valid = emailLooksValid(email) && rules.every((rule) => rule.ok);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!valid) {
      setError("Fix what is marked before signing up.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await rest("POST", "/auth/signup", { email, password });
      navigate(`/login?created=${encodeURIComponent(email)}`);
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow" aria-labelledby="signup-title">
      <h1 id="signup-title">Sign up</h1>
      <form onSubmit={submit} noValidate>
        <label htmlFor="signup-email">Email</label>
        <input id="signup-email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)}
          aria-invalid={email !== "" && !emailLooksValid(email)} required />
        <label htmlFor="signup-password">Password</label>
        <input id="signup-password" type="password" autoComplete="new-password" value={password}
          onChange={(e) => setPassword(e.target.value)} aria-describedby="password-rules" required />
        <ul id="password-rules" className="rules" aria-live="polite">
          {rules.map((rule) => (
            <li key={rule.label} className={rule.ok ? "ok" : "missing"} data-ok={rule.ok}>
              <span aria-hidden="true">{rule.ok ? "✓" : "✗"}</span> {rule.label}
            </li>
          ))}
        </ul>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>Sign up</button>
      </form>
      <p>Have an account? <Link to="/login">Log in</Link></p>
    </section>
  );
}
