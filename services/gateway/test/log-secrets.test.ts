import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, call, startBackend, startTestGateway, type TestGateway } from './helpers';
import { WsClient } from './ws-client';

describe('server logs never contain a passcode', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  let webDir: string;
  const lines: string[] = [];
  // Every line the gateway and the services write, at debug, as they would reach a log store.
  const destination = { write: (line: string) => void lines.push(line) };

  beforeAll(async () => {
    h = await setup({ postgres: true });
    webDir = await mkdtemp(join(tmpdir(), 'lessoncall-web-'));
    await writeFile(join(webDir, 'index.html'), '<!doctype html><title>lessoncall</title><div id="root"></div>');
    backend = await startBackend(h, { logger: createLogger('backend', { level: 'debug', destination }) });
    gw = await startTestGateway(h, { WEB_DIST_DIR: webDir }, { logger: createLogger('gateway', { level: 'debug', destination }) });
  });
  afterAll(async () => {
    await gw?.stop();
    await backend?.stop();
    await h?.cleanup();
    await rm(webDir, { recursive: true, force: true });
  });

  it('through an old ?pwd= link, the meeting lookup, a wrong passcode, the REST join and the WebSocket hello', async () => {
    const m = await backend.createMeeting();
    const passcode = m.passcode;
    const wrong = passcode === '000000' ? '111111' : '000000';
    const token = await gw.tokenFor(m.tutorId);
    const page = await fetch(`${gw.url}/meet/${m.meetingId}?pwd=${passcode}&relay=1`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect((await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}?passcode=${passcode}`, { token })).status).toBe(200);
    expect((await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}`, { token, headers: { 'x-meeting-passcode': passcode } })).status).toBe(200);
    expect((await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}?passcode=${wrong}`, { token })).body.code).toBe('passcode_invalid');
    const joined = await call(gw.url, 'POST', `/api/video/meetings/${m.meetingId}/join`, { token, body: { passcode } });
    expect(joined.status).toBe(200);
    const ws = await WsClient.open(gw.wsUrl);
    try {
      await ws.hello({ accessToken: await gw.tokenFor(m.studentId), meetingId: m.meetingId, passcode });
    } finally {
      ws.close();
    }
    // The lines this test caused are there (the capture works), and none carries either passcode.
    await expect.poll(() => lines.filter((l) => l.includes(m.meetingId) || l.includes('"route":"/api/video/meetings/:meetingId')).length).toBeGreaterThan(3);
    expect(lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
    const digits = (code: string) => new RegExp(`(?<![0-9])${code}(?![0-9])`);
    expect(lines.filter((l) => digits(passcode).test(l))).toEqual([]);
    expect(lines.filter((l) => digits(wrong).test(l))).toEqual([]);
  });
});
