import { ConnectError } from "../gen/connect_runtime";

/** A call's error with its Connect code, as the user should see it. */
export function ErrorMessage(props: { error: ConnectError }) {
  return (
    <p className="error" role="alert" data-code={props.error.code}>
      <code>{props.error.code}</code> {props.error.rawMessage || "the call failed"}
    </p>
  );
}
