/// Figures for the report: a small figure model drawn through Cairo and Pango into PNG, SVG
/// and PDF. Takes plain arrays and images, never tensors.
public enum Plot {}
