import { describe, expect, it } from 'vitest';
import { cleanDisplayName, participantLabel, presentSentence, roleLabel } from './names';

describe('names beside roles', () => {
  it('shows the role from userType whatever the display name claims', () => {
    expect(participantLabel({ displayName: 'Tutor', userType: 'student' })).toBe('Tutor (Student)');
    expect(participantLabel({ displayName: 'Ms Smith (tutor)', userType: 'student' })).toBe('Ms Smith (tutor) (Student)');
    expect(participantLabel({ displayName: 'Demo Tutor', userType: 'tutor' })).toBe('Demo Tutor (Tutor)');
    expect([roleLabel('tutor'), roleLabel('student')]).toEqual(['Tutor', 'Student']);
  });

  it('drops bidi and invisible controls that could turn the role around or fake another name', () => {
    expect(cleanDisplayName('Anna\u202E', 'student')).toBe('Anna');
    expect(participantLabel({ displayName: '\u2067rotuT\u2069', userType: 'student' })).toBe('rotuT (Student)');
    expect(cleanDisplayName('Bo\u200Bb\n  Smith ', 'student')).toBe('Bob Smith');
    expect(cleanDisplayName('\u200F \u202D', 'tutor')).toBe('Tutor');
  });

  it('names everyone already in the lobby with their role', () => {
    expect(presentSentence([])).toBeUndefined();
    expect(presentSentence([{ displayName: 'Tutor', userType: 'student' }])).toBe('Tutor (Student) is already here');
    expect(
      presentSentence([
        { displayName: 'A', userType: 'tutor' },
        { displayName: 'B', userType: 'student' },
        { displayName: 'B', userType: 'student' },
      ]),
    ).toBe('A (Tutor), B (Student) and B (Student) are already here');
  });
});
