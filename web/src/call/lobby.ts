/**
 * Whether the lobby's Join button may be pressed, and what it says. Pure, so that the rule
 * "never before the devices have settled" (issue 13) is tested without a browser.
 */
import type { CallSnapshot } from './call';
import { isFinal } from './errors';

export interface JoinGate {
  canJoin: boolean;
  label: string;
  /** The passcode is missing or wrong: the lobby asks for it. */
  askPasscode: boolean;
}

const blockingLoadCodes = new Set(['meeting_not_started', 'passcode_locked', 'passcode_invalid']);

export function joinGate(snap: Pick<CallSnapshot, 'call' | 'meetingLoad' | 'local'>): JoinGate {
  const { call, meetingLoad, local } = snap;
  const joining = call.phase === 'joining';
  const joinError = call.phase === 'preview' ? call.joinError : undefined;
  const loadError = meetingLoad.status === 'error' ? meetingLoad.error : undefined;
  const passcodeWrong = loadError?.code === 'passcode_invalid' || joinError?.code === 'passcode_invalid';
  const askPasscode = meetingLoad.status === 'needs-passcode' || passcodeWrong;
  const blocked = !!loadError && (isFinal(loadError.code) || blockingLoadCodes.has(loadError.code));
  const canJoin = !joining && !local.settling && meetingLoad.status !== 'loading' && !askPasscode && !blocked;
  const label = joining
    ? 'Joining…'
    : meetingLoad.status === 'loading'
      ? 'Checking the lesson…'
      : local.settling
        ? 'Starting camera and microphone…'
        : 'Join lesson';
  return { canJoin, label, askPasscode };
}
