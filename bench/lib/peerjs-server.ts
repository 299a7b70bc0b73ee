/**
 * A PeerJS signalling server (npm `peer`), as a PeerJS deployment runs it, for the relay
 * benchmark's comparison. PORT from the environment.
 */
import { PeerServer } from 'peer';

const port = Number(process.env.PORT);
PeerServer({ port, host: '127.0.0.1', path: '/', concurrent_limit: 100_000 });
