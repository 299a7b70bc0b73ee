import type { ChatMessage } from '@lessoncall/proto';

/** Mirrors the participant service's limit, so the box says so before the server has to. */
export const chatMaxLength = 2000;
/** Request ids of chat sends carry the client message id, so a reply or an error finds its message. */
const requestPrefix = 'chat:';

export interface ChatEntry {
  /** The server's id once stored; until then the client message id. */
  key: string;
  clientMessageId: string;
  text: string;
  mine: boolean;
  userType: string;
  sentAt: Date | undefined;
  /** sending: not answered yet; failed: refused (with the reason). */
  status: 'sent' | 'sending' | 'failed';
  error?: string;
}

export interface ChatSnapshot {
  entries: ChatEntry[];
  unread: number;
  open: boolean;
}

export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const urlPattern = /\bhttps?:\/\/[^\s<>"']+/gi;
/** Punctuation that ends a sentence, not a link (“see https://x.org.”). */
const trailing = /[.,;:!?)\]}]+$/;

/**
 * Plain text cut into text and links. Only http and https become links, and only after the URL
 * parser agrees; everything else stays text, which React renders as text (never as HTML).
 */
export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(urlPattern)) {
    let raw = m[0];
    const cut = raw.match(trailing);
    if (cut) raw = raw.slice(0, raw.length - cut[0].length);
    const start = m.index ?? 0;
    let href: string | undefined;
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch {
      href = undefined;
    }
    if (!href) continue;
    if (start > at) out.push({ kind: 'text', text: text.slice(at, start) });
    out.push({ kind: 'link', text: raw, href });
    at = start + raw.length;
  }
  if (at < text.length) out.push({ kind: 'text', text: text.slice(at) });
  return out;
}

export interface ChatStoreOptions {
  /** Puts a send on the socket (queued by the signaling client while it reconnects). */
  send: (requestId: string, clientMessageId: string, text: string) => void;
  newId?: () => string;
}

/**
 * The call's chat: the transcript (deduplicated by server id, so history after a resume and a
 * live message never show twice), messages in flight (resent with the same client id after a
 * reconnect: the server stores them once), and the unread count while the panel is closed.
 */
export class ChatStore {
  readonly #o: Required<ChatStoreOptions>;
  #entries: ChatEntry[] = [];
  #unread = 0;
  #open = false;
  #selfSessionIds = new Set<string>();
  #snapshot: ChatSnapshot = { entries: [], unread: 0, open: false };
  readonly #listeners = new Set<() => void>();

  constructor(options: ChatStoreOptions) {
    this.#o = { newId: () => crypto.randomUUID(), ...options };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  };

  getSnapshot = (): ChatSnapshot => this.#snapshot;

  /** Our session (a new one after a reload): its messages are ours. */
  setSelf(sessionId: string, userId?: string): void {
    this.#selfSessionIds.add(sessionId);
    if (userId) this.#selfUserId = userId;
  }
  #selfUserId: string | undefined;

  setOpen(open: boolean): void {
    this.#open = open;
    if (open) this.#unread = 0;
    this.#changed();
  }

  /** Returns an error to show instead of sending, or undefined when sent. */
  send(text: string): string | undefined {
    const body = text.trim() === '' ? '' : text;
    if (body === '') return 'Type a message first.';
    if ([...body].length > chatMaxLength) return `Messages are limited to ${chatMaxLength} characters.`;
    const clientMessageId = this.#o.newId();
    this.#entries = [...this.#entries, { key: clientMessageId, clientMessageId, text: body, mine: true, userType: '', sentAt: undefined, status: 'sending' }];
    this.#o.send(`${requestPrefix}${clientMessageId}`, clientMessageId, body);
    this.#changed();
    return undefined;
  }

  /** The transcript after a welcome (join or resume): replaces what is stored, resends what is still in flight. */
  history(messages: ChatMessage[]): void {
    const pending = this.#entries.filter((e) => e.status === 'sending');
    const stored = new Set(messages.map((m) => m.clientMessageId));
    this.#entries = messages.map((m) => this.#entry(m));
    for (const p of pending) {
      if (stored.has(p.clientMessageId)) continue;
      this.#entries.push(p);
      this.#o.send(`${requestPrefix}${p.clientMessageId}`, p.clientMessageId, p.text);
    }
    this.#changed();
  }

  /** A stored message: ours (the reply to a send) or someone else's. */
  posted(message: ChatMessage): void {
    const entry = this.#entry(message);
    const i = this.#entries.findIndex((e) => e.key === entry.key || (e.mine && e.status !== 'sent' && e.clientMessageId === entry.clientMessageId));
    if (i >= 0) {
      this.#entries = this.#entries.map((e, j) => (j === i ? entry : e));
    } else {
      this.#entries = [...this.#entries, entry];
      if (!entry.mine && !this.#open) this.#unread += 1;
    }
    this.#changed();
  }

  /** An error reply; true if it was about a chat send. */
  failed(requestId: string, message: string): boolean {
    if (!requestId.startsWith(requestPrefix)) return false;
    const clientMessageId = requestId.slice(requestPrefix.length);
    this.#entries = this.#entries.map((e) =>
      e.clientMessageId === clientMessageId && e.status === 'sending' ? { ...e, status: 'failed', error: message } : e,
    );
    this.#changed();
    return true;
  }

  #entry(m: ChatMessage): ChatEntry {
    const mine = this.#selfSessionIds.has(m.sessionId) || (this.#selfUserId !== undefined && m.userId === this.#selfUserId);
    return {
      key: m.messageId,
      clientMessageId: m.clientMessageId,
      text: m.text,
      mine,
      userType: m.userType,
      sentAt: m.sentAt ? new Date(Number(m.sentAt.seconds) * 1000 + Math.floor(m.sentAt.nanos / 1e6)) : undefined,
      status: 'sent',
    };
  }

  #changed(): void {
    this.#snapshot = { entries: this.#entries, unread: this.#unread, open: this.#open };
    for (const l of this.#listeners) l();
  }
}
