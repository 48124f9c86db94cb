// Keeps a test peer script (rogue, stranger flood) up until SIGTERM/SIGINT, then stops its
// network and closes its filesystem.
export function stayUp(net: { stop(): Promise<void> }, fs: { close(): Promise<void> }): void {
  const stop = async () => {
    await net.stop();
    await fs.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  setInterval(() => {}, 60_000);
}
