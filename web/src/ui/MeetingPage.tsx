import { useEffect, useState, useSyncExternalStore } from 'react';
import { GatewayApi } from '../call/api';
import type { Auth, AuthUser } from '../call/auth';
import { CallController } from '../call/call';
import { exposeForTests } from '../call/debug';
import { CallRoom } from './CallRoom';
import { EndScreen } from './EndScreen';
import { Lobby } from './Lobby';

// Constant-folded by Vite: in a production build the branch and the debug module are dropped.
const debugHooks = import.meta.env.DEV || import.meta.env.MODE === 'test';

export interface MeetingPageProps {
  api: GatewayApi;
  auth: Auth;
  user: AuthUser;
  meetingId: string;
  passcode: string | undefined;
  forceRelay: boolean;
}

/** One meeting: owns the CallController for as long as the page shows this meeting. */
export function MeetingPage({ api, auth, meetingId, passcode, forceRelay }: MeetingPageProps) {
  const [controller, setController] = useState<CallController | undefined>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: the passcode is the initial one; later ones go through the controller
  useEffect(() => {
    const c = new CallController({
      api,
      auth,
      wsUrl: GatewayApi.webSocketUrl(meetingId),
      meetingId,
      passcode,
      forceRelay,
      // `?debug` in the link logs the call's steps in production builds too (support, the browser tests).
      log:
        import.meta.env.DEV || new URLSearchParams(window.location.search).has('debug')
          ? (m, extra) => console.debug(`[lessoncall] ${m}`, extra ?? '')
          : () => {},
    });
    setController(c);
    // Only dev and test builds (`vite build --mode test`, which the browser suite uses): the
    // handle exposes the TURN credentials, so a production bundle does not even contain it.
    const unexpose = debugHooks ? exposeForTests(c) : () => {};
    void c.openLobby();
    // Closing the tab is leaving: the other side sees it at once instead of after the grace period.
    const onHide = (e: PageTransitionEvent) => {
      if (!e.persisted) c.dispose();
    };
    window.addEventListener('pagehide', onHide);
    return () => {
      window.removeEventListener('pagehide', onHide);
      unexpose();
      c.dispose();
    };
  }, [api, auth, meetingId, forceRelay]);
  if (!controller) return null;
  return <CallView controller={controller} />;
}

function CallView({ controller }: { controller: CallController }) {
  const snap = useSyncExternalStore(controller.subscribe, controller.getSnapshot);
  switch (snap.call.phase) {
    case 'idle':
    case 'preview':
    case 'joining':
      return <Lobby controller={controller} snap={snap} />;
    case 'in-call':
    case 'reconnecting':
      return <CallRoom controller={controller} snap={snap} />;
    case 'left':
    case 'failed':
      return <EndScreen controller={controller} snap={snap} />;
  }
}
