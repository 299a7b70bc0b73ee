import { generateMeetingUrl } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { addressWithoutPasscode, meetingPath, parseMeetingIdInput, parseRoute, passcodeProblem, recalledPasscode, rememberPasscode } from './routes';

const id = 'MID-ABCDEFGHJKMNPQRS';

describe('parseRoute', () => {
  it('opens a meeting from the link the meeting service issues', () => {
    const link = generateMeetingUrl('https://lessons.example.com', id, '123456');
    expect(parseRoute(link)).toEqual({ page: 'meeting', meetingId: id, passcode: '123456', forceRelay: false, demoAs: undefined });
  });

  it('opens a meeting link issued under a path prefix', () => {
    expect(parseRoute('https://x.example/app/meet/MID-ABCDEFGHJKMNPQRS?pwd=000111')).toMatchObject({ page: 'meeting', passcode: '000111' });
  });

  it('accepts a lower-case id, a trailing slash and ?passcode=', () => {
    expect(parseRoute('/meet/mid-abcdefghjkmnpqrs/?passcode=654321')).toEqual({
      page: 'meeting',
      meetingId: id,
      passcode: '654321',
      forceRelay: false,
      demoAs: undefined,
    });
  });

  it('leaves the passcode to the lobby when the link has none or a malformed one', () => {
    expect(parseRoute(`/meet/${id}`)).toMatchObject({ page: 'meeting', passcode: undefined });
    expect(parseRoute(`/meet/${id}?pwd=12ab56`)).toMatchObject({ page: 'meeting', passcode: undefined });
  });

  it('reads which demo user a local link is for', () => {
    expect(parseRoute(`/meet/${id}?pwd=123456&as=tutor`)).toMatchObject({ demoAs: 'tutor' });
    expect(parseRoute(`/meet/${id}?pwd=123456&as=admin`)).toMatchObject({ demoAs: undefined });
  });

  it('reads the relay flag', () => {
    expect(parseRoute(`/meet/${id}?pwd=123456&relay=1`)).toMatchObject({ forceRelay: true });
    expect(parseRoute(`/meet/${id}?pwd=123456&relay=0`)).toMatchObject({ forceRelay: false, demoAs: undefined });
  });

  it('sends / and /join to the page that asks for an ID, and anything else to not-found', () => {
    expect(parseRoute('/')).toEqual({ page: 'enter' });
    expect(parseRoute('/join')).toEqual({ page: 'enter' });
    expect(parseRoute('/meet/MID-TOOSHORT')).toEqual({ page: 'not-found', path: '/meet/MID-TOOSHORT' });
    expect(parseRoute('/admin')).toMatchObject({ page: 'not-found' });
  });

  it('round-trips meetingPath', () => {
    expect(meetingPath(id, '123456', { forceRelay: true })).toBe(`/meet/${id}?relay=1#pwd=123456`);
    expect(parseRoute(meetingPath(id, '123456'))).toEqual({ page: 'meeting', meetingId: id, passcode: '123456', forceRelay: false, demoAs: undefined });
    expect(meetingPath(id)).toBe(`/meet/${id}`);
  });
});

describe('passcodes in links', () => {
  it('reads the passcode from the fragment the link helper writes, and still from the old ?pwd=', () => {
    const link = generateMeetingUrl('https://lessons.example.com', id, '123456');
    expect(link).toBe(`https://lessons.example.com/meet/${id}#pwd=123456`);
    expect(parseRoute(`/meet/${id}?relay=1#pwd=222333`)).toMatchObject({ passcode: '222333', forceRelay: true });
    expect(parseRoute(`/meet/${id}?pwd=444555&as=student`)).toMatchObject({ passcode: '444555', demoAs: 'student' });
    // The fragment wins over a stale query.
    expect(parseRoute(`/meet/${id}?pwd=111111#pwd=999999`)).toMatchObject({ passcode: '999999' });
  });

  it('gives the address without its passcode, keeping everything else, for history.replaceState', () => {
    expect(addressWithoutPasscode(`https://lessons.example.com/meet/${id}#pwd=123456`)).toBe(`https://lessons.example.com/meet/${id}`);
    expect(addressWithoutPasscode(`/meet/${id}?pwd=123456&as=tutor&relay=1`)).toBe(`/meet/${id}?as=tutor&relay=1`);
    expect(addressWithoutPasscode(`/meet/${id}?passcode=123456#pwd=123456&x=1`)).toBe(`/meet/${id}#x=1`);
    expect(addressWithoutPasscode(`/meet/${id}?relay=1`)).toBeUndefined();
    for (const href of [`/meet/${id}?pwd=123456`, `https://h.test/meet/${id}?relay=1#pwd=123456`]) {
      const clean = addressWithoutPasscode(href) ?? '';
      expect(clean).not.toContain('123456');
      expect(parseRoute(clean)).toMatchObject({ page: 'meeting', meetingId: id, passcode: undefined });
    }
  });

  it("keeps a tab's passcode for a reload, per meeting, and ignores what is not a passcode", () => {
    const data = new Map<string, string>();
    const store = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v) };
    expect(recalledPasscode(store, id)).toBeUndefined();
    rememberPasscode(store, id, '123456');
    expect(recalledPasscode(store, id)).toBe('123456');
    expect(recalledPasscode(store, 'MID-ZZZZZZZZZZZZZZZZ')).toBeUndefined();
    data.set(`lessoncall.passcode.${id}`, '<script>');
    expect(recalledPasscode(store, id)).toBeUndefined();
    const full = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(() => rememberPasscode(full, id, '123456')).not.toThrow();
  });
});

describe('parseMeetingIdInput', () => {
  it('takes the ID with or without prefix, in any case, with spaces', () => {
    expect(parseMeetingIdInput(id).meetingId).toBe(id);
    expect(parseMeetingIdInput(' abcdefghjkmnpqrs ').meetingId).toBe(id);
    expect(parseMeetingIdInput('ABCD EFGH JKMN PQRS').meetingId).toBe(id);
  });

  it('takes ID and passcode from a pasted link', () => {
    expect(parseMeetingIdInput(`https://lessons.example.com/meet/${id}?pwd=123456`)).toEqual({ meetingId: id, passcode: '123456', problem: undefined });
  });

  it('does not complain while the ID is still being typed', () => {
    expect(parseMeetingIdInput('MID-ABC')).toEqual({ meetingId: undefined, passcode: undefined, problem: undefined });
    expect(parseMeetingIdInput('')).toEqual({ meetingId: undefined, passcode: undefined, problem: undefined });
  });

  it('complains as soon as the input cannot become an ID', () => {
    expect(parseMeetingIdInput('MID-AB_C').problem).toMatch(/letters and digits/);
    expect(parseMeetingIdInput(`${id}X`).problem).toMatch(/too long/);
    expect(parseMeetingIdInput('https://x/meet/nope').problem).toMatch(/not a lesson link/);
  });
});

describe('passcodeProblem', () => {
  it('validates as you type, and insists on 6 digits at the end', () => {
    expect(passcodeProblem('12')).toBeUndefined();
    expect(passcodeProblem('12a')).toMatch(/only digits/);
    expect(passcodeProblem('1234567')).toMatch(/6 digits/);
    expect(passcodeProblem('12', true)).toMatch(/6 digits/);
    expect(passcodeProblem('', true)).toMatch(/Enter/);
    expect(passcodeProblem('123456', true)).toBeUndefined();
  });
});
