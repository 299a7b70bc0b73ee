import type { CallController, CallSnapshot } from '../call/call';
import type { DeviceOption } from '../call/media';

/** Camera, microphone and speaker inside the call; a switch replaces the track, nothing renegotiates. */
export function DevicePanel({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const { local } = snap;
  return (
    <section className="device-panel" data-testid="device-panel" aria-label="Devices">
      <Picker
        label="Camera"
        testId="call-camera-select"
        value={local.cameraDeviceId}
        options={local.devices.cameras}
        none="No camera"
        onChange={(id) => void controller.selectCamera(id)}
      />
      <Picker
        label="Microphone"
        testId="call-mic-select"
        value={local.microphoneDeviceId}
        options={local.devices.microphones}
        none="No microphone"
        onChange={(id) => void controller.selectMicrophone(id)}
      />
      {snap.canPickSpeaker && local.devices.speakers.length > 0 ? (
        <Picker
          label="Speaker"
          testId="call-speaker-select"
          value={snap.speakerId ?? ''}
          options={[{ deviceId: '', label: 'System default' }, ...local.devices.speakers.filter((d) => d.deviceId !== 'default')]}
          none="Default"
          onChange={(id) => controller.selectSpeaker(id)}
        />
      ) : null}
    </section>
  );
}

function Picker(props: { label: string; testId: string; value: string | undefined; options: DeviceOption[]; none: string; onChange: (id: string) => void }) {
  return (
    <label className="field compact">
      <span>{props.label}</span>
      <select data-testid={props.testId} value={props.value ?? ''} disabled={props.options.length === 0} onChange={(e) => props.onChange(e.target.value)}>
        {props.options.length === 0 ? <option value="">{props.none}</option> : null}
        {props.options.map((d) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label}
          </option>
        ))}
      </select>
    </label>
  );
}
