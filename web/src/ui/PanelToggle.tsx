import type { ReactNode } from 'react';
import { Icon, type IconName } from './icons';

/** A toolbar button that opens and closes a side panel (`controls`: the panel's id), with a badge for what happened while it was closed. */
export function PanelToggle(props: {
  open: boolean;
  onToggle: (open: boolean) => void;
  controls: string;
  icon: IconName;
  title: string;
  label: string;
  testId: string;
  badge?: ReactNode;
}) {
  return (
    <button
      type="button"
      className={`round ${props.open ? 'active' : ''}`}
      aria-pressed={props.open}
      aria-expanded={props.open}
      aria-controls={props.controls}
      aria-label={props.label}
      title={props.title}
      data-testid={props.testId}
      onClick={() => props.onToggle(!props.open)}
    >
      <Icon name={props.icon} />
      {props.badge}
    </button>
  );
}
