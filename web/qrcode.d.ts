// The part of the `qrcode` npm package (1.5.4, which ships no types) that the page uses.
export interface QRCodeOptions {
  errorCorrectionLevel?: "L" | "M" | "Q" | "H";
  margin?: number;
  width?: number;
  scale?: number;
}
declare const QRCode: {
  toCanvas(canvas: HTMLCanvasElement, text: string, options?: QRCodeOptions): Promise<void>;
};
export default QRCode;
