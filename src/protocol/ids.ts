import { z } from 'zod';

/** A database id: a positive whole number. Strings of digits are accepted for path parameters. */
export const idSchema = z.coerce
  .number({ error: 'must be a positive whole number' })
  .int('must be a positive whole number')
  .positive('must be a positive whole number');

export const companyIdSchema = idSchema;

export const nullableResourceIdSchema = z.union([idSchema, z.null()], {
  error: 'must be a resource id (a positive whole number) or null for every resource of the company',
});
