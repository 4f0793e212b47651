/** The part of jStat (a CommonJS package without types) that featshift uses. */
declare module 'jstat' {
  const jStat: {
    studentt: {
      /** The quantile of Student's t distribution with `dof` degrees of freedom. */
      inv(p: number, dof: number): number;
    };
    normal: {
      cdf(x: number, mean: number, sd: number): number;
    };
  };
  export default jStat;
}
