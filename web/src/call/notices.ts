/** Passing messages over the call ("Ann joined", "The tutor muted your microphone"): the last three, each gone after a while. */

export interface Notice {
  id: number;
  text: string;
}

/** How long a notice is shown. */
export const noticeMs = 6_000;

export class Notices {
  private list: Notice[] = [];
  private next = 1;

  constructor(private readonly changed: () => void) {}

  /** Oldest first. */
  get current(): Notice[] {
    return this.list;
  }

  add(text: string): void {
    const n = { id: this.next++, text };
    this.list = [...this.list.slice(-2), n];
    this.changed();
    setTimeout(() => {
      this.list = this.list.filter((x) => x !== n);
      this.changed();
    }, noticeMs);
  }
}
