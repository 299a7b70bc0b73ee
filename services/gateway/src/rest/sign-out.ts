import { z } from 'zod';
import type { Revocations } from '../auth/revocations';
import { actor } from './meetings';
import { type AnyRoute, defineRoute } from './route';

export const signOutBody = z
  .object({
    /** `global` (supabase-js `signOut()`'s default): every sign-in of this user; `local`: only this one. */
    scope: z.enum(['global', 'local']).default('global'),
  })
  .strict();

/**
 * POST /api/video/sign-out: the web client calls it before it signs out at Supabase, so the
 * access tokens already handed out stop working here at once (REST, WebSocket hello, and the
 * sockets already open), not at their `exp`.
 */
export function signOutRoutes(revocations: Pick<Revocations, 'revoke'>): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/video/sign-out',
      operationId: 'signOut',
      summary: 'Sign out: refuse this user’s access tokens from now on (or only this sign-in’s)',
      description:
        'Every gateway refuses the signed-out tokens with 401 token_revoked and closes the WebSockets opened with them (4401). Call it before signing out at Supabase: afterwards the token is still needed to say who signs out.',
      tags: ['auth'],
      access: 'user',
      body: signOutBody,
      responses: { 204: { description: 'Signed out' } },
      problems: [],
      async handler(c) {
        await revocations.revoke(actor(c), c.body.scope);
        return { status: 204, body: '' };
      },
    }),
  ];
}
