import { describe, expect, it } from 'vitest';
import type { CallSnapshot } from './call';
import { joinGate } from './lobby';

type GateInput = Parameters<typeof joinGate>[0];

function lobby(over: { settling?: boolean; meetingLoad?: CallSnapshot['meetingLoad']; call?: CallSnapshot['call'] } = {}): GateInput {
  return {
    call: over.call ?? { phase: 'preview' },
    meetingLoad: over.meetingLoad ?? { status: 'ready' },
    local: {
      stream: {} as MediaStream,
      audioTrack: undefined,
      videoTrack: undefined,
      screenTrack: undefined,
      screenAudio: false,
      audioError: undefined,
      videoError: undefined,
      cameraDeviceId: undefined,
      microphoneDeviceId: undefined,
      devices: { cameras: [], microphones: [], speakers: [] },
      audioMessage: undefined,
      videoMessage: undefined,
      settling: over.settling ?? false,
    },
  };
}

const message = (code: string) => ({ code, title: code, detail: '', fix: '', retryable: false });

describe('joinGate', () => {
  it('opens once the lesson is loaded and the devices have settled', () => {
    expect(joinGate(lobby())).toEqual({ canJoin: true, label: 'Join lesson', askPasscode: false });
  });

  it('stays closed while a camera or microphone request is in flight, and says why (issue 13)', () => {
    expect(joinGate(lobby({ settling: true }))).toMatchObject({ canJoin: false, label: 'Starting camera and microphone…' });
  });

  it('stays closed while the lesson loads, and while joining', () => {
    expect(joinGate(lobby({ meetingLoad: { status: 'loading' } }))).toMatchObject({ canJoin: false, label: 'Checking the lesson…' });
    expect(joinGate(lobby({ call: { phase: 'joining' } }))).toMatchObject({ canJoin: false, label: 'Joining…' });
  });

  it('asks for the passcode when it is missing or was refused, at load or at join', () => {
    expect(joinGate(lobby({ meetingLoad: { status: 'needs-passcode' } }))).toMatchObject({ canJoin: false, askPasscode: true });
    const refused = { status: 'error', error: message('passcode_invalid'), retryAt: undefined } as const;
    expect(joinGate(lobby({ meetingLoad: refused }))).toMatchObject({ canJoin: false, askPasscode: true });
    expect(joinGate(lobby({ call: { phase: 'preview', joinError: message('passcode_invalid') } }))).toMatchObject({ canJoin: false, askPasscode: true });
  });

  it('is closed before the window opens and when the lesson is over, open after a transient error', () => {
    const err = (code: string) => ({ status: 'error', error: message(code), retryAt: undefined }) as const;
    expect(joinGate(lobby({ meetingLoad: err('meeting_not_started') })).canJoin).toBe(false);
    expect(joinGate(lobby({ meetingLoad: err('passcode_locked') })).canJoin).toBe(false);
    expect(joinGate(lobby({ meetingLoad: err('meeting_ended') })).canJoin).toBe(false);
    // An unavailable gateway at load time should not stop a retry by pressing Join.
    expect(joinGate(lobby({ meetingLoad: err('unavailable') })).canJoin).toBe(true);
  });
});
