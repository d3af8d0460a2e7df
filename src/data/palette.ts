// Named colours as CIELAB prototypes (dermoscopy, polyp) or grey levels (ultrasound).
// synth paints with them; measure maps measured colours to the nearest one, so the
// vocabulary words mean the same numbers on both sides.
export type Lab = [number, number, number]

export const dermoscopyColours: Record<string, Lab> = {
  'light brown': [63, 14, 30],
  'dark brown': [35, 15, 20],
  'reddish': [50, 44, 22],
  'blue-grey': [52, -4, -12]
}

export const polypColours: Record<string, Lab> = {
  'pale pink': [78, 16, 10],
  'pink': [63, 34, 12],
  'red': [45, 50, 32]
}

/** Lesion grey level (sRGB value in [0,1]) per echo word. */
export const ultrasoundEcho: Record<string, number> = {anechoic: 0.05, hypoechoic: 0.24}
/** A lesion darker than this mean grey level is anechoic (midway between the two levels). */
export const echoThreshold = 0.14
