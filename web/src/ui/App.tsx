import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { GatewayApi } from '../call/api';
import { type Auth, type AuthSetup, type AuthUser, createAuth, DevAuth } from '../call/auth';
import { describeError } from '../call/errors';
import { appConfig } from '../config';
import { EnterPage } from './EnterPage';
import { MeetingPage } from './MeetingPage';
import { MessagePanel } from './Message';
import { useRoute } from './router';
import { SignIn } from './SignIn';

const noAuth = { subscribe: () => () => {}, user: () => undefined };

function useAuthUser(auth: Auth | undefined): AuthUser | undefined {
  const a = auth ?? noAuth;
  // user() returns a new object each time; key the snapshot on its id so React sees a stable value.
  const key = useSyncExternalStore(a.subscribe.bind(a), () => {
    const u = a.user();
    return u ? `${u.userId}|${u.displayName}` : '';
  });
  return useMemo(() => (key ? a.user() : undefined), [key, a]);
}

export function App() {
  const [route, navigate] = useRoute();
  const api = useMemo(() => new GatewayApi(), []);
  const [setup, setSetup] = useState<AuthSetup | undefined>();
  useEffect(() => {
    let live = true;
    void createAuth(appConfig, api).then((s) => live && setSetup(s));
    return () => {
      live = false;
    };
  }, [api]);
  const auth = setup?.kind === 'ready' ? setup.auth : undefined;
  const user = useAuthUser(auth);
  // Links printed by the local start script carry ?as=tutor|student: sign in as that demo user.
  const demoAs = route.page === 'meeting' ? route.demoAs : undefined;
  const [demoFailed, setDemoFailed] = useState(false);
  const wantsDemo = auth instanceof DevAuth && demoAs !== undefined && user?.demoAs !== demoAs && !demoFailed;
  useEffect(() => {
    if (!(auth instanceof DevAuth) || !demoAs || !wantsDemo) return;
    auth.signIn(demoAs).catch(() => setDemoFailed(true));
  }, [auth, demoAs, wantsDemo]);

  let body: React.ReactNode;
  if (route.page === 'enter') {
    body = <EnterPage onEnter={navigate} />;
  } else if (route.page === 'not-found') {
    body = (
      <main className="page narrow">
        <MessagePanel
          message={{ code: 'not_found', title: 'Page not found', detail: 'This address is not a lesson link.', retryable: false }}
          action={{ label: 'Enter a meeting ID', onClick: () => navigate('/') }}
        />
      </main>
    );
  } else if (!setup || wantsDemo) {
    body = (
      <main className="page narrow" aria-busy="true">
        <p className="muted">Loading…</p>
      </main>
    );
  } else if (setup.kind === 'error') {
    body = (
      <main className="page narrow">
        <MessagePanel message={describeError(setup.error)} action={{ label: 'Try again', onClick: () => window.location.reload() }} />
      </main>
    );
  } else if (setup.kind === 'unconfigured' || !auth) {
    body = (
      <main className="page narrow">
        <MessagePanel
          message={{
            code: 'auth_unconfigured',
            title: 'Sign-in is not set up',
            detail: 'This installation has no Supabase project configured (VITE_SUPABASE_URL, VITE_SUPABASE_ANON_KEY) and the local demo sign-in is off.',
            retryable: false,
          }}
        />
      </main>
    );
  } else if (!user) {
    body = <SignIn auth={auth} />;
  } else {
    body = (
      <MeetingPage
        key={`${route.meetingId}|${user.userId}`}
        api={api}
        auth={auth}
        user={user}
        meetingId={route.meetingId}
        passcode={route.passcode}
        forceRelay={route.forceRelay || appConfig.iceTransportPolicy === 'relay'}
      />
    );
  }

  return (
    <div className="app">
      <header className="topbar">
        <a
          className="brand"
          href="/"
          onClick={(e) => {
            if (route.page === 'meeting') return; // a full load leaves the call cleanly
            e.preventDefault();
            navigate('/');
          }}
        >
          <img src="/favicon.svg" alt="" width="24" height="24" />
          lessoncall
        </a>
        {user && auth ? (
          <div className="whoami">
            {user.demoAs ? (
              <span className="demo-badge" title="Signed in through the local dev issuer">
                demo
              </span>
            ) : null}
            <span className="whoami-name" data-testid="signed-in-as">
              {user.displayName}
            </span>
            <button type="button" className="link-button" onClick={() => void auth.signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      {body}
    </div>
  );
}
