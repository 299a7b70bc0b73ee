import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const deployDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoDir = join(deployDir, '..');
export const chartDir = join(deployDir, 'helm', 'lessoncall');
export const dockerDir = join(deployDir, 'docker');

/** The node services of the chart, each a workspace package services/<name> with its own image. */
export const SERVICES = ['gateway', 'meeting', 'participant', 'signaling', 'turn', 'media'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The backend services built from deploy/docker/service.Dockerfile, told apart by its SERVICE build argument. */
export const SHARED_IMAGE_SERVICES = SERVICES.filter((s) => s !== 'gateway');
