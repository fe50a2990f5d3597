/**
 * Named steps run in order, after debos's actions, with their data typed: a step is a function from what it
 * needs to what it adds, and a recipe's state is what it started with plus what every step so far added. A
 * step whose input names something no earlier step produces does not compile, so no step reads a field
 * that may not be there yet.
 */

/** One step's view of the progress display. */
export interface StepProgress {
  /** Bytes (or items) done of total. */
  bytes(done: number, total: number): void;
  /** A short status text for the running step. */
  note(text: string): void;
  /** A message worth keeping (a lint warning, an input warning). */
  warn(text: string): void;
}

export interface Reporter {
  begin(label: string): StepProgress;
  succeed(label: string, detail?: string): void;
  fail(label: string, message: string): void;
}

/** What a step adds when it only writes files or checks something. */
export type Nothing = Record<never, never>;

export interface Step<In, Out extends object> {
  /** Shown in the progress display. */
  readonly name: string;
  /** A property, not a method, so the compiler checks the input contravariantly against the recipe's state. */
  readonly run: (input: In, progress: StepProgress) => Promise<Out>;
}

type AnyRun = (input: object, progress: StepProgress) => Promise<object>;

export interface RunOptions {
  /** Put before every step's name (the hostname when a build makes several appliances). */
  prefix?: string;
  /** Called before each step. */
  beforeStep?: () => void;
}

export class Recipe<Initial extends object, State extends object> {
  private constructor(private readonly steps: readonly Step<never, object>[]) {}

  /** An empty recipe whose state starts as `Initial`. */
  static start<Initial extends object>(): Recipe<Initial, Initial> {
    return new Recipe<Initial, Initial>([]);
  }

  /** This recipe followed by `step`, which may use anything the state holds by then. */
  then<Out extends object>(step: Step<State, Out>): Recipe<Initial, State & Out> {
    return new Recipe<Initial, State & Out>([...this.steps, step]);
  }

  get names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Run every step in order, each reported under its name; the first failure is reported and thrown. */
  async run(initial: Initial, reporter: Reporter, options: RunOptions = {}): Promise<State> {
    let state: object = initial;
    for (const step of this.steps) {
      options.beforeStep?.();
      const label = (options.prefix ?? '') + step.name;
      const progress = reporter.begin(label);
      let added: object;
      try {
        // The one unchecked call: `then` checked this step's input against the state it will get here.
        added = await (step.run as AnyRun)(state, progress);
      } catch (err) {
        reporter.fail(label, (err as Error).message);
        throw err;
      }
      for (const key of Object.keys(added)) {
        if (key in state) throw new Error(`step "${step.name}" would replace "${key}", which an earlier step produced`);
      }
      state = { ...state, ...added };
      reporter.succeed(label);
    }
    // Built by the steps `then` typed, one by one.
    return state as State;
  }
}

/** The state a recipe ends with. */
export type StateOf<R> = R extends Recipe<object, infer S> ? S : never;
