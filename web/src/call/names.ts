import type { UserType } from './protocol';

/**
 * Who someone is, as the UI shows it. The display name is theirs to choose, so it may say
 * anything ("Tutor", "Teacher (host)"); the role comes from `userType`, which the meeting
 * service decides, and is shown beside the name wherever a name is shown.
 */

// Format characters (bidi controls, zero-width ones) can reorder the text after the name
// ("Anna\u202E" turns a following "(Student)" around) or make two names look alike; control
// characters break lines. None has a place in a name shown beside a role.
const controls = /[\p{Cc}\p{Cf}]/gu;

export function roleLabel(userType: UserType): string {
  return userType === 'tutor' ? 'Tutor' : 'Student';
}

/** The name without control and format characters or surrounding space; the role's word when nothing is left. */
export function cleanDisplayName(name: string, userType?: UserType): string {
  const clean = name.replace(controls, '').replace(/\s+/g, ' ').trim();
  return clean || (userType ? roleLabel(userType) : 'Participant');
}

/** "Anna (Student)": the name, then the role from userType, for labels and sentences. */
export function participantLabel(p: { displayName: string; userType: UserType }): string {
  return `${cleanDisplayName(p.displayName, p.userType)} (${roleLabel(p.userType)})`;
}

/** The lobby's "who is here already" line, each person with their role. */
export function presentSentence(people: { displayName: string; userType: UserType }[]): string | undefined {
  if (people.length === 0) return undefined;
  const names = people.map(participantLabel);
  const list = names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${list} ${people.length === 1 ? 'is' : 'are'} already here`;
}
