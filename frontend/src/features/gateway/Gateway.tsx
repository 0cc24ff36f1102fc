import { useEffect, useState, type FormEvent } from "react";
import { useGetOverview, useInvokeCustom, useWatchInvocations } from "../../gen/gateway/v1/gateway-GatewayService_connectquery";
import { ErrorMessage } from "../../app/ErrorMessage";

// custom-lang's test names: each fails with the status gateway maps to a Connect code.
const failures = ["unauthorized", "forbidden", "notfound", "conflict", "ratelimit", "unavailable"];

export function Gateway() {
  const [name, setName] = useState("World");
  const invoke = useInvokeCustom();
  const overview = useGetOverview();
  const live = useWatchInvocations({}, { maxMessages: 50 });
  useEffect(() => {
    overview.mutateAsync({}).catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once, on entry
  }, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invoke.mutateAsync({ name }).catch(() => undefined);
  };
  return (
    <div className="grid">
      <section className="card" aria-labelledby="invoke-title">
        <h1 id="invoke-title">Invoke custom-lang</h1>
        <form onSubmit={submit} className="inline">
          <label htmlFor="invoke-name">Name</label>
          <input id="invoke-name" list="failure-names" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
          <datalist id="failure-names">{failures.map((failure) => <option key={failure} value={failure} />)}</datalist>
          <button type="submit" disabled={invoke.isPending}>Invoke</button>
        </form>
        <p className="hint">Try a failure: {failures.map((failure, index) => (
          <span key={failure}>{index > 0 && ", "}<button type="button" className="link" onClick={() => setName(failure)}>{failure}</button></span>
        ))}</p>
        {invoke.error && <ErrorMessage error={invoke.error} />}
        {invoke.data && !invoke.error && <p id="invoke-message" className="success" aria-live="polite">{invoke.data.message}</p>}
      </section>
      <section className="card" aria-labelledby="overview-title">
        <h2 id="overview-title">Overview</h2>
        {overview.error && <ErrorMessage error={overview.error} />}
        {overview.data && (
          <>
            <p>Languages: {overview.data.supportedLanguages.join(", ") || "none"} (default {overview.data.defaultLanguage || "?"})</p>
            <ul className="health">
              {overview.data.services.map((service) => (
                <li key={service.name} className={service.healthy ? "ok" : "missing"}>
                  {service.name}: {service.healthy ? "healthy" : "unhealthy"} ({service.latencyMs} ms){service.detail && ` — ${service.detail}`}
                </li>
              ))}
            </ul>
          </>
        )}
        <button type="button" onClick={() => overview.mutateAsync({}).catch(() => undefined)} disabled={overview.isPending}>Refresh</button>
      </section>
      <section className="card wide" aria-labelledby="live-title">
        <h2 id="live-title">Live invocations <span className={live.isStreaming ? "badge ok" : "badge"}>{live.isStreaming ? "live" : "stopped"}</span></h2>
        {live.error && <ErrorMessage error={live.error} />}
        {live.messages.length === 0 ? <p className="hint">Invocations from any tab appear here as they happen.</p> : (
          <table>
            <thead><tr><th>Time</th><th>Name</th><th>Result</th><th>HTTP</th><th>Duration</th></tr></thead>
            <tbody id="live-invocations">
              {[...live.messages].reverse().map((invocation) => (
                <tr key={invocation.id} data-name={invocation.name}>
                  <td>{new Date(invocation.createdAt).toLocaleTimeString()}</td>
                  <td>{invocation.name}</td>
                  <td className={invocation.success ? "ok" : "missing"}>{invocation.success ? "ok" : invocation.code}</td>
                  <td>{invocation.httpStatus}</td>
                  <td>{invocation.durationMs} ms</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
