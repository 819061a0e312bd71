import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler'

const fromPool = AjvCompiler()

/**
 * Fastify's Ajv, but strict about bodies. A query string or a path holds only text, so its values are
 * coerced to the types their schema names (`?limit=50` is the integer 50); a JSON body carries its own
 * types, and coercing them would accept `"expected_version": "1"` or `"actions": "set_limits"` for what
 * the client must send as a number or a list. Bodies are therefore validated with coercion off.
 */
export const strictBodies: ValidatorFactory = (externalSchemas, options) => {
  const coercing = fromPool(externalSchemas, options)
  // JSON Type Definition mode never coerces.
  if (options?.mode === 'JTD') return coercing
  const strict = fromPool(externalSchemas, {
    ...options,
    customOptions: { ...options?.customOptions, coerceTypes: false },
  })
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route))
}
