import { ErrorCode } from '../gen/lessoncall/v1/common_pb';

/**
 * The stable wire form of every ErrorCode (ERROR_CODE_MEETING_NOT_FOUND → "meeting_not_found"),
 * as REST problems and WebSocket errors carry it: one list for the services and the web app.
 */
export type ErrorCodeName = Lowercase<Exclude<keyof typeof ErrorCode, 'UNSPECIFIED' | number> extends infer K ? (K extends string ? K : never) : never>;

export const errorCodeNames: readonly ErrorCodeName[] = Object.keys(ErrorCode)
  .filter((k) => Number.isNaN(Number(k)) && k !== 'UNSPECIFIED')
  .map((k) => k.toLowerCase() as ErrorCodeName);

export function isErrorCodeName(value: string): value is ErrorCodeName {
  return (errorCodeNames as readonly string[]).includes(value);
}
