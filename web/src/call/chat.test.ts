import { create } from '@bufbuild/protobuf';
import { ChatMessageSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { ChatStore, linkify } from './chat';

const tutor = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const student = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

function message(id: string, clientMessageId: string, userId: string, text: string) {
  return create(ChatMessageSchema, {
    messageId: id,
    clientMessageId,
    userId,
    sessionId: `s-${userId.slice(0, 4)}`,
    userType: userId === tutor ? 'tutor' : 'student',
    text,
  });
}

describe('linkify', () => {
  it('links http and https only, and leaves markup as text', () => {
    expect(linkify('see https://example.org/a?b=1. ok')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: '. ok' },
    ]);
    for (const text of ['javascript:alert(1)', 'data:text/html,<script>x</script>', '<a href="https://x.org">x</a>', 'ftp://x.org']) {
      expect(
        linkify(text)
          .filter((s) => s.kind === 'link')
          .map((s) => s.text),
      ).not.toContain(text);
    }
    expect(linkify('<img src=x onerror=alert(1)>')).toEqual([{ kind: 'text', text: '<img src=x onerror=alert(1)>' }]);
  });
});

describe('ChatStore', () => {
  it('never shows a message twice, resends what is in flight after a welcome, and counts unread while closed', () => {
    const sent: Array<[string, string]> = [];
    let n = 0;
    const chat = new ChatStore({ send: (_r, id, text) => sent.push([id, text]), newId: () => `c${++n}` });
    chat.setSelf('s-self', student);
    chat.history([message('1', 't1', tutor, 'hello')]);
    expect(chat.send('hi')).toBeUndefined();
    expect(chat.send('   ')).toMatch(/Type a message/);
    expect(chat.send('x'.repeat(2001))).toMatch(/2000 characters/);
    expect(chat.getSnapshot().entries.map((e) => e.status)).toEqual(['sent', 'sending']);

    // The socket dropped before the reply; the resume's history does not have it: sent again, same id.
    chat.history([message('1', 't1', tutor, 'hello')]);
    expect(sent).toEqual([
      ['c1', 'hi'],
      ['c1', 'hi'],
    ]);
    chat.posted(message('2', 'c1', student, 'hi'));
    chat.posted(message('2', 'c1', student, 'hi'));
    expect(chat.getSnapshot().entries.map((e) => [e.key, e.mine, e.status])).toEqual([
      ['1', false, 'sent'],
      ['2', true, 'sent'],
    ]);
    expect(chat.getSnapshot().unread).toBe(0);
    chat.posted(message('3', 't2', tutor, 'question?'));
    expect(chat.getSnapshot().unread).toBe(1);
    chat.setOpen(true);
    expect(chat.getSnapshot().unread).toBe(0);
    chat.posted(message('4', 't3', tutor, 'while open'));
    expect(chat.getSnapshot().unread).toBe(0);

    chat.send('too fast');
    expect(chat.failed('chat:c2', 'Too many messages')).toBe(true);
    expect(chat.failed('7', 'other')).toBe(false);
    expect(chat.getSnapshot().entries.at(-1)).toMatchObject({ status: 'failed', error: 'Too many messages' });
  });
});
