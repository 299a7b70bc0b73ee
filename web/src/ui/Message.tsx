import type { UserMessage } from '../call/errors';
import { formatCountdown, useNow } from './hooks';

/** A problem in plain words: what happened, what to do, and a countdown when there is a wait. */
export function MessagePanel({
  message,
  retryAt,
  tone = 'error',
  testId = 'error-message',
  action,
}: {
  message: UserMessage;
  retryAt?: number | undefined;
  tone?: 'error' | 'info' | 'warning';
  testId?: string;
  action?: { label: string; onClick: () => void; testId?: string } | undefined;
}) {
  const now = useNow(1_000, retryAt !== undefined);
  const remaining = retryAt !== undefined ? retryAt - now : undefined;
  return (
    <div className={`message message-${tone}`} role={tone === 'error' ? 'alert' : 'status'} data-testid={testId} data-code={message.code}>
      <strong className="message-title">{message.title}</strong>
      <p>{message.detail}</p>
      {message.fix ? <p className="message-fix">{message.fix}</p> : null}
      {remaining !== undefined && remaining > 0 ? (
        <p className="countdown" data-testid="countdown" aria-live="off">
          {message.code === 'meeting_not_started' ? 'Opens in ' : 'Try again in '}
          <span className="countdown-value">{formatCountdown(remaining)}</span>
        </p>
      ) : null}
      {action ? (
        <button type="button" className="button secondary" onClick={action.onClick} data-testid={action.testId}>
          {action.label}
        </button>
      ) : null}
    </div>
  );
}
