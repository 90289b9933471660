/** Turns the escape sequences people write in a config (`\n`, `\r\n`, `\t`, `\\`) into the real characters. */
export function unescapeSeparator(text: string): string {
  return text.replace(/\\(.)/g, (_match, char: string) => {
    switch (char) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '0':
        return '\0';
      default:
        return char;
    }
  });
}
