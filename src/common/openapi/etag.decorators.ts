import { ApiHeader } from '@nestjs/swagger';

export const ApiIfMatch = () =>
  ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a previous read; a mismatch answers 412.' });
