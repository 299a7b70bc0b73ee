import { useState } from 'react';
import { type Auth, DevAuth, SupabaseAuth } from '../call/auth';
import { describeError, type UserMessage } from '../call/errors';
import { MessagePanel } from './Message';

export function SignIn({ auth }: { auth: Auth }) {
  return (
    <main className="page narrow">
      <h1>Sign in to join your lesson</h1>
      {auth instanceof DevAuth ? <DemoSignIn auth={auth} /> : null}
      {auth instanceof SupabaseAuth ? <EmailSignIn auth={auth} /> : null}
    </main>
  );
}

function DemoSignIn({ auth }: { auth: DevAuth }) {
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<UserMessage | undefined>();
  const users = auth.demoUsers.length
    ? auth.demoUsers
    : [
        { as: 'tutor' as const, name: 'Demo Tutor', userId: '' },
        { as: 'student' as const, name: 'Demo Student', userId: '' },
      ];
  return (
    <section className="card demo" aria-labelledby="demo-title">
      <h2 id="demo-title">
        <span className="demo-badge">Local demo</span> Sign in as a demo user
      </h2>
      <p className="muted">
        This server runs with the development sign-in switched on. It signs you in as one of two demo accounts, without a password. Real deployments use
        Supabase sign-in instead.
      </p>
      <div className="button-row">
        {users.map((u) => (
          <button
            key={u.as}
            type="button"
            className="button"
            disabled={busy !== undefined}
            data-testid={`signin-demo-${u.as}`}
            onClick={() => {
              setBusy(u.as);
              setError(undefined);
              auth.signIn(u.as).catch((e: unknown) => {
                setError(describeError(e));
                setBusy(undefined);
              });
            }}
          >
            Sign in as demo {u.as} ({u.name})
          </button>
        ))}
      </div>
      {error ? <MessagePanel message={error} /> : null}
    </section>
  );
}

function EmailSignIn({ auth }: { auth: SupabaseAuth }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserMessage | undefined>();
  const [sent, setSent] = useState(false);
  const run = (f: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    f()
      .catch((e: unknown) => {
        const m = describeError(e);
        setError(m.code === 'unauthenticated' ? { ...m, title: 'Could not sign in', detail: e instanceof Error ? e.message : m.detail } : m);
      })
      .finally(() => setBusy(false));
  };
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        run(() => auth.signInWithPassword(email, password));
      }}
    >
      <label className="field">
        <span>Email</span>
        <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label className="field">
        <span>Password</span>
        <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <div className="button-row">
        <button type="submit" className="button" disabled={busy || !email || !password}>
          Sign in
        </button>
        <button
          type="button"
          className="button secondary"
          disabled={busy || !email}
          onClick={() =>
            run(async () => {
              await auth.sendMagicLink(email);
              setSent(true);
            })
          }
        >
          Email me a sign-in link
        </button>
      </div>
      {sent ? <p role="status">Check your email for the sign-in link, then open it in this browser.</p> : null}
      {error ? <MessagePanel message={error} /> : null}
    </form>
  );
}
