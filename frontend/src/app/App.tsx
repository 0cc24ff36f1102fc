// Providers, navigation and routes. Pages other than sign-up and log-in need a session.
import type { ReactNode } from "react";
import { Link, Redirect, useLocation } from "./router";
import { SessionProvider, useSession } from "./session";
import { SignUp } from "../features/auth/SignUp";
import { LogIn } from "../features/auth/LogIn";
import { Greeter } from "../features/greeter/Greeter";
import { Gateway } from "../features/gateway/Gateway";
import { Language } from "../features/language/Language";

export function App() {
  return (
    <SessionProvider>
      <Layout />
    </SessionProvider>
  );
}

const pages: { path: string; title: string; page: () => ReactNode }[] = [
  { path: "/greeter", title: "Greeter", page: () => <Greeter /> },
  { path: "/gateway", title: "Gateway", page: () => <Gateway /> },
  { path: "/language", title: "Language", page: () => <Language /> },
];

function Layout() {
  const { path } = useLocation();
  const { session, logOut } = useSession();
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">devctl platform</Link>
        <nav aria-label="Main">
          {session && pages.map((page) => (
            <Link key={page.path} to={page.path} current={path === page.path}>{page.title}</Link>
          ))}
        </nav>
        <div className="account">
          {session ? (
            <>
              <span className="who" title={session.userId}>{session.email}</span>
              <button type="button" onClick={() => logOut()}>Log out</button>
            </>
          ) : (
            <>
              <Link to="/login" current={path === "/login"}>Log in</Link>
              <Link to="/signup" current={path === "/signup"}>Sign up</Link>
            </>
          )}
        </div>
      </header>
      <main id="main">
        <Route path={path} signedIn={session !== null} />
      </main>
    </>
  );
}

function Route(props: { path: string; signedIn: boolean }) {
  if (props.path === "/") return <Redirect to={props.signedIn ? "/greeter" : "/login"} />;
  if (props.path === "/login") return <LogIn />;
  if (props.path === "/signup") return <SignUp />;
  const page = pages.find((candidate) => candidate.path === props.path);
  if (!page) return <section><h1>Not found</h1><p>No page at {props.path}. <Link to="/">Home</Link></p></section>;
  if (!props.signedIn) return <Redirect to={`/login?next=${encodeURIComponent(props.path)}`} />;
  return <>{page.page()}</>;
}
