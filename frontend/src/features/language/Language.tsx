import { useEffect, useState, type FormEvent } from "react";
import { rest, RestError, useSession } from "../../app/session";

/** The user's language (custom-lang keeps it per user; gateway's greetings use it). */
export function Language() {
  const { session } = useSession();
  const [languages, setLanguages] = useState<string[]>([]);
  const [chosen, setChosen] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const userId = session?.userId ?? "";
  const token = session?.token;

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const list = await rest<{ languages: string[]; default: string }>("GET", "/api/lang", undefined, token);
        let current = list.default;
        try {
          current = (await rest<{ lang: string }>("GET", `/api/lang/preferences/${encodeURIComponent(userId)}`, undefined, token)).lang;
        } catch (reason) {
          if (!(reason instanceof RestError && reason.status === 404)) throw reason;
        }
        if (live) { setLanguages(list.languages); setChosen(current); }
      } catch (reason) {
        if (live) setError(reason instanceof Error ? reason.message : String(reason));
      }
    })();
    return () => { live = false; };
  }, [userId, token]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setStatus(null);
    try {
      await rest("PUT", `/api/lang/preferences/${encodeURIComponent(userId)}`, { lang: chosen }, token);
      setStatus(`Saved: ${chosen}`);
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    }
  };

  return (
    <section className="card narrow" aria-labelledby="language-title">
      <h1 id="language-title">Language</h1>
      <form onSubmit={save} className="inline">
        <label htmlFor="language">Preferred language</label>
        <select id="language" value={chosen} onChange={(e) => setChosen(e.target.value)} disabled={languages.length === 0}>
          {languages.map((language) => <option key={language} value={language}>{language}</option>)}
        </select>
        <button type="submit" disabled={!chosen}>Save</button>
      </form>
      {status && <p className="success" role="status">{status}</p>}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
