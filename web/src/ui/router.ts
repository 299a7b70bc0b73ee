import { useCallback, useSyncExternalStore } from 'react';
import { parseRoute, type Route } from '../call/routes';

function subscribe(listener: () => void) {
  window.addEventListener('popstate', listener);
  return () => window.removeEventListener('popstate', listener);
}

const href = () => window.location.href;

/** The current route, and navigation without a page load. */
export function useRoute(): [Route, (path: string) => void] {
  const current = useSyncExternalStore(subscribe, href);
  const navigate = useCallback((path: string) => {
    window.history.pushState(null, '', path);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, []);
  return [parseRoute(current), navigate];
}
