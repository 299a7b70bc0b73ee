/**
 * What a removed participant reads, in one place: the participant service's
 * removed_from_meeting, the gateway's `removed` notice and the web client's screen say the same.
 */
export const removedFromLessonMessage = 'The tutor removed you from this lesson';
