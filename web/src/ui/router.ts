import { useCallback, useSyncExternalStore } from 'react';
import { addressWithoutPasscode, type PasscodeStore, parseRoute, recalledPasscode, rememberPasscode, type Route } from '../call/routes';

const store = (): PasscodeStore => window.sessionStorage;

/**
 * Takes a passcode out of the address bar: kept for this tab (a reload still finds it), then the
 * address is replaced without it, so it is in no history entry and, for an old `?pwd=` link, not
 * sent to the server again.
 */
function takePasscodeFromAddress(): void {
  const route = parseRoute(window.location.href);
  if (route.page !== 'meeting' || route.passcode === undefined) return;
  rememberPasscode(store(), route.meetingId, route.passcode);
  const clean = addressWithoutPasscode(window.location.href);
  if (clean) window.history.replaceState(window.history.state, '', clean);
}

function subscribe(listener: () => void) {
  const onPop = () => {
    takePasscodeFromAddress();
    listener();
  };
  window.addEventListener('popstate', onPop);
  return () => window.removeEventListener('popstate', onPop);
}

const href = () => window.location.href;

/** Remembers a passcode typed in the lobby for a reload of this tab; it never goes into the address. */
export function keepPasscode(meetingId: string, passcode: string): void {
  rememberPasscode(store(), meetingId, passcode);
}

/** The current route, and navigation without a page load. */
export function useRoute(): [Route, (path: string) => void] {
  const current = useSyncExternalStore(subscribe, href);
  const navigate = useCallback((path: string) => {
    window.history.pushState(null, '', path);
    takePasscodeFromAddress();
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, []);
  const route = parseRoute(current);
  if (route.page === 'meeting' && route.passcode === undefined) return [{ ...route, passcode: recalledPasscode(store(), route.meetingId) }, navigate];
  return [route, navigate];
}

// Before the first render: the link's passcode leaves the address bar at once.
if (typeof window !== 'undefined') takePasscodeFromAddress();
