// node.d.ts — the few node:test and node:assert/strict declarations the unit tests use (no @types/node needed).

declare module "node:test" {
  type Body = () => void | Promise<void>;
  export function describe(name: string, body: () => void): void;
  export function it(name: string, body: Body): void;
  export function test(name: string, body: Body): void;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    fail(message?: string): never;
    match(value: string, pattern: RegExp, message?: string): void;
    doesNotMatch(value: string, pattern: RegExp, message?: string): void;
    throws(block: () => unknown, message?: string): void;
    rejects(block: Promise<unknown> | (() => Promise<unknown>), error?: unknown): Promise<void>;
  }
  const assert: Assert;
  export default assert;
}
