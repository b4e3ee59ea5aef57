import { z } from 'zod';
import cronParser from 'cron-parser';

/** A five- or six-field cron expression, checked by the same parser the scheduler uses. */
export const cronExpressionSchema = z.string().superRefine((value, ctx) => {
  const fields = value.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    ctx.addIssue({ code: 'custom', message: 'must be a cron expression of 5 or 6 fields, such as "0 3 * * *"' });
    return;
  }
  try {
    cronParser.parseExpression(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `is not a valid cron expression: ${(error as Error).message}` });
  }
});
