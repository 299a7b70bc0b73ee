/**
 * The moments a call should check itself at once instead of waiting for the disconnect timer:
 * the browser comes back online, the network changes (Wi-Fi → phone hotspot; Chromium's
 * `navigator.connection`), and the page comes back from the background (`visibilitychange` —
 * iOS Safari suspends a hidden page's media, and its videos stay black until played again).
 */
export type ResumeReason = 'online' | 'network-change' | 'visible';

/** The event the video elements listen for, to play() again. */
export const resumeVideoEvent = 'lessoncall:resume-video';

export function watchPageLifecycle(onResume: (why: ResumeReason) => void, win: Window | undefined = globalThis.window): () => void {
  if (!win) return () => {};
  const online = () => onResume('online');
  const visible = () => {
    if (win.document.visibilityState === 'visible') onResume('visible');
  };
  const network = () => onResume('network-change');
  const connection = (win.navigator as Navigator & { connection?: EventTarget }).connection;
  win.addEventListener('online', online);
  win.document.addEventListener('visibilitychange', visible);
  connection?.addEventListener?.('change', network);
  return () => {
    win.removeEventListener('online', online);
    win.document.removeEventListener('visibilitychange', visible);
    connection?.removeEventListener?.('change', network);
  };
}
