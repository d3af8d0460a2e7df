// Dispatch on the architecture read from config.json.
import type {TextEncoderConfig} from './config.js'
import {bertForward, type EncoderInputs, type EncoderOutputs} from './bert.js'
import {distilbertForward} from './distilbert.js'
import type {Weights} from './layers.js'

export function runEncoder(c: TextEncoderConfig, w: Weights, inputs: EncoderInputs): EncoderOutputs {
  return c.arch === 'bert' ? bertForward(c, w, inputs) : distilbertForward(c, w, inputs)
}
