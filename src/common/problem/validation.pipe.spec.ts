import 'reflect-metadata';
import { ArgumentMetadata } from '@nestjs/common';
import { PageQueryDto } from '../pagination';
import { ValidationProblem } from './problem';
import { ProblemValidationPipe } from './validation.pipe';

const query = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'query', metatype, data: undefined });

describe('ProblemValidationPipe on a repeated flat query', () => {
  it('gives the same instance of the class every time, each a copy of its own', async () => {
    const pipe = new ProblemValidationPipe();
    const first = (await pipe.transform({ limit: '25', cursor: 'abc' }, query(PageQueryDto))) as PageQueryDto;
    const second = (await pipe.transform({ limit: '25', cursor: 'abc' }, query(PageQueryDto))) as PageQueryDto;
    const third = (await pipe.transform({ limit: '25', cursor: 'abc' }, query(PageQueryDto))) as PageQueryDto;
    for (const result of [first, second, third]) {
      expect(result).toBeInstanceOf(PageQueryDto);
      expect({ ...result }).toEqual({ limit: 25, cursor: 'abc' });
    }
    expect(second).not.toBe(third);
    second.limit = 7;
    expect(((await pipe.transform({ limit: '25', cursor: 'abc' }, query(PageQueryDto))) as PageQueryDto).limit).toBe(25);
  });

  it('refuses an invalid query every time, and a valid one remembered does not let a different one through', async () => {
    const pipe = new ProblemValidationPipe();
    for (let i = 0; i < 2; i++) {
      await expect(pipe.transform({ limit: '0' }, query(PageQueryDto))).rejects.toBeInstanceOf(ValidationProblem);
      await expect(pipe.transform({ limit: '25', extra: 'x' }, query(PageQueryDto))).rejects.toBeInstanceOf(ValidationProblem);
    }
    await pipe.transform({ limit: '25' }, query(PageQueryDto));
    await expect(pipe.transform({ limit: '250' }, query(PageQueryDto))).rejects.toThrow(ValidationProblem);
    await expect(pipe.transform({ limit: '25', cursor: 'a\u0000' }, query(PageQueryDto))).rejects.toThrow(ValidationProblem);
    expect({ ...((await pipe.transform({ limit: '25' }, query(PageQueryDto))) as object) }).toEqual({ limit: 25 });
  });

  it('remembers per class, and a bounded number of queries', async () => {
    class Other extends PageQueryDto {}
    const pipe = new ProblemValidationPipe();
    for (let i = 1; i <= 1200; i++) await pipe.transform({ cursor: `c${i}` }, query(PageQueryDto));
    const remembered = (pipe as unknown as { validFlatQueries: WeakMap<object, Map<string, object>> }).validFlatQueries;
    expect(remembered.get(PageQueryDto)!.size).toBeLessThanOrEqual(1000);
    expect(remembered.get(Other)).toBeUndefined();
    expect(await pipe.transform({ cursor: 'c1' }, query(Other))).toBeInstanceOf(Other);
  });
});
