/**
 * Parsers of command-line values for commander options, shared by every floe command:
 * each turns a string into a number (or collects repeated options) or throws commander's
 * InvalidArgumentError, which commander reports with the option's name.
 */
import { InvalidArgumentError } from 'commander';

export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${value} is not an integer`);
  return n;
}

/** An integer in [min, max]. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = int(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${value} is not in [${min}, ${max}]`);
    return n;
  };
}

export function positiveInt(value: string): number {
  const n = int(value);
  if (n < 1) throw new InvalidArgumentError(`${value} is not a positive integer`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = int(value);
  if (n < 0) throw new InvalidArgumentError(`${value} is not a non-negative integer`);
  return n;
}

export function port(value: string): number {
  const n = int(value);
  if (n < 0 || n > 65535) throw new InvalidArgumentError(`${value} is not a port (0 picks a free one)`);
  return n;
}

/** A repeatable option: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A repeatable key=value option: the pairs as a record (a later key wins). */
export function keyValue(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`${value} is not key=value`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}
