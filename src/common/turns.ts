/**
 * At most `slots` pieces of work at once; the others wait their turn in arrival order, each at
 * most `maxWaitMs` (then `run` rejects with `tooLong()`, and the work never starts).
 */
export class Turns {
  private running = 0;
  private readonly waiting: Array<{ start: () => void; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly slots: number,
    private readonly maxWaitMs: number,
    private readonly tooLong: () => Error,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await this.turn();
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.start(); // the slot passes on
      } else {
        this.running--;
      }
    }
  }

  private turn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        start: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          reject(this.tooLong());
        }, this.maxWaitMs),
      };
      this.waiting.push(entry);
    });
  }
}
