import { useState, type FormEvent } from "react";
import { useGreet } from "../../gen/greeter/v1/greeter-GreeterService_connectquery";
import { ErrorMessage } from "../../app/ErrorMessage";

export function Greeter() {
  const [name, setName] = useState("");
  const greet = useGreet();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    greet.mutateAsync({ name }).catch(() => undefined); // shown from greet.error
  };
  return (
    <section className="card" aria-labelledby="greeter-title">
      <h1 id="greeter-title">Greeter</h1>
      <form onSubmit={submit} className="inline">
        <label htmlFor="greet-name">Name</label>
        <input id="greet-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        <button type="submit" disabled={greet.isPending}>{greet.isPending ? "Greeting…" : "Greet"}</button>
      </form>
      {greet.error && <ErrorMessage error={greet.error} />}
      {greet.data && !greet.error && (
        <dl className="result" aria-live="polite">
          <dt>Message</dt><dd id="greet-message">{greet.data.message}</dd>
          <dt>External status</dt><dd>{greet.data.externalStatus}</dd>
          <dt>External body length</dt><dd>{greet.data.externalBodyLength} bytes</dd>
        </dl>
      )}
    </section>
  );
}
