import { generateMeetingUrl } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { meetingPath, parseMeetingIdInput, parseRoute, passcodeProblem } from './routes';

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
    expect(meetingPath(id, '123456', { forceRelay: true })).toBe(`/meet/${id}?pwd=123456&relay=1`);
    expect(parseRoute(meetingPath(id, '123456'))).toEqual({ page: 'meeting', meetingId: id, passcode: '123456', forceRelay: false, demoAs: undefined });
    expect(meetingPath(id)).toBe(`/meet/${id}`);
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
