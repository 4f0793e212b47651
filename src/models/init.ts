import type { Tensor } from '../engine/tensor.js';

/** The weight initialisations of the reference (docs/method.md §3), as torch.nn.init defines them. */
export type InitScheme = 'kaiming-normal' | 'kaiming-uniform' | 'xavier-normal' | 'xavier-uniform';
export const INIT_SCHEMES: readonly InitScheme[] = [
  'kaiming-normal',
  'kaiming-uniform',
  'xavier-normal',
  'xavier-uniform',
];

/** fan_in and fan_out of a conv ([out, in, kh, kw]) or linear ([out, in]) weight. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const [out = 1, inp = 1, ...kernel] = shape;
  const receptive = kernel.reduce((a, b) => a * b, 1);
  return { fanIn: inp * receptive, fanOut: out * receptive };
}

/**
 * Fills a weight in place. Kaiming uses fan_in and the ReLU gain sqrt(2) (std = sqrt(2 / fan_in),
 * or the uniform bound sqrt(6 / fan_in)); Xavier uses gain 1 and fan_in + fan_out.
 */
export function initWeight(weight: Tensor, scheme: InitScheme): void {
  const { fanIn, fanOut } = fans(weight.shape);
  switch (scheme) {
    case 'kaiming-normal':
      weight.normal_(0, Math.sqrt(2) / Math.sqrt(fanIn));
      break;
    case 'kaiming-uniform': {
      const bound = Math.sqrt(3) * (Math.sqrt(2) / Math.sqrt(fanIn));
      weight.uniform_(-bound, bound);
      break;
    }
    case 'xavier-normal':
      weight.normal_(0, Math.sqrt(2 / (fanIn + fanOut)));
      break;
    case 'xavier-uniform': {
      const bound = Math.sqrt(3) * Math.sqrt(2 / (fanIn + fanOut));
      weight.uniform_(-bound, bound);
      break;
    }
  }
}
