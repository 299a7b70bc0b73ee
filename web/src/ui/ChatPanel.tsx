import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { type ChatEntry, type ChatStore, chatMaxLength, linkify } from '../call/chat';
import { Icon } from './icons';
import { PanelToggle } from './PanelToggle';

/** The chat store's state, for the toggle's unread badge and the panel. */
export function useChat(chat: ChatStore) {
  return useSyncExternalStore(chat.subscribe, chat.getSnapshot);
}

/** The toolbar button: opens and closes the panel, shows unread messages while it is closed. */
export function ChatToggle({ chat }: { chat: ChatStore }) {
  const snap = useChat(chat);
  return (
    <PanelToggle
      open={snap.open}
      onToggle={(open) => chat.setOpen(open)}
      controls="chat-panel"
      icon="chat"
      title="Chat"
      label={snap.unread > 0 ? `Chat (${snap.unread} unread)` : 'Chat'}
      testId="control-chat"
      badge={
        snap.unread > 0 ? (
          <span className="count unread" data-testid="chat-unread">
            {snap.unread}
          </span>
        ) : null
      }
    />
  );
}

/**
 * Plain text only: message text goes into React text nodes, never into HTML; links are http(s)
 * only (linkify) and open in a new tab without access to this one (noopener noreferrer).
 * Enter sends, Shift+Enter is a new line, Escape closes and gives the focus back to the toggle.
 */
export function ChatPanel({ chat }: { chat: ChatStore }) {
  const snap = useChat(chat);
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (snap.open) inputRef.current?.focus();
  }, [snap.open]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-run to scroll to the newest message when one arrives or the panel opens
  useEffect(() => {
    const l = listRef.current;
    if (l) l.scrollTop = l.scrollHeight;
  }, [snap.entries.length, snap.open]);
  if (!snap.open) return null;

  const close = () => {
    chat.setOpen(false);
    document.querySelector<HTMLButtonElement>('[data-testid="control-chat"]')?.focus();
  };
  const send = () => {
    const error = chat.send(draft);
    setProblem(error);
    if (!error) setDraft('');
  };

  return (
    <aside
      id="chat-panel"
      className="panel chat-panel"
      aria-label="Chat"
      data-testid="chat-panel"
      onKeyDown={(e) => {
        if (e.key === 'Escape') close();
      }}
    >
      <header className="panel-head">
        <h2>Chat</h2>
        <button type="button" className="icon-button" aria-label="Close the chat" onClick={close}>
          <Icon name="close" size={18} />
        </button>
      </header>
      <ol className="chat-messages" ref={listRef} aria-live="polite" data-testid="chat-messages">
        {snap.entries.length === 0 ? <li className="chat-empty">No messages yet. Say hello!</li> : null}
        {snap.entries.map((e) => (
          <ChatLine key={e.key} entry={e} />
        ))}
      </ol>
      <form
        className="chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label htmlFor="chat-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="chat-input"
          ref={inputRef}
          rows={2}
          value={draft}
          maxLength={chatMaxLength * 2}
          placeholder="Write a message (Enter to send)"
          data-testid="chat-input"
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" className="button small" data-testid="chat-send">
          Send
        </button>
        {problem ? (
          <p className="chat-problem" role="alert">
            {problem}
          </p>
        ) : null}
      </form>
    </aside>
  );
}

function ChatLine({ entry }: { entry: ChatEntry }) {
  const who = entry.mine ? 'You' : entry.userType === 'tutor' ? 'Tutor' : 'Student';
  return (
    <li className={`chat-line${entry.mine ? ' mine' : ''}`} data-testid="chat-message" data-status={entry.status} data-mine={entry.mine}>
      <span className="chat-who">{who}</span>
      {entry.sentAt ? (
        <time className="chat-time" dateTime={entry.sentAt.toISOString()}>
          {entry.sentAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </time>
      ) : null}
      <p className="chat-text">
        {linkify(entry.text).map((s, i) =>
          s.kind === 'link' ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: segments of one immutable text
            <a key={i} href={s.href} target="_blank" rel="noopener noreferrer">
              {s.text}
            </a>
          ) : (
            // biome-ignore lint/suspicious/noArrayIndexKey: segments of one immutable text
            <span key={i}>{s.text}</span>
          ),
        )}
      </p>
      {entry.status === 'sending' ? <span className="chat-status">sending…</span> : null}
      {entry.status === 'failed' ? (
        <span className="chat-status failed" role="alert">
          Not sent: {entry.error}
        </span>
      ) : null}
    </li>
  );
}
